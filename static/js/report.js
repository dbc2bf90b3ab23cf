// The hazard report form: "share my location" fills the hidden latitude and longitude from the browser (the shop
// list's search box is select-filter.js). Without this script the form still works, without a position.
(() => {
  const form = document.querySelector("[data-report-form]");
  if (!form) return;

  const share = form.querySelector("input[name=share_location]");
  const status = form.querySelector("[data-location-status]");
  const latitude = form.querySelector("input[name=latitude]");
  const longitude = form.querySelector("input[name=longitude]");

  function say(key) {
    if (status) status.textContent = key ? status.dataset[key] : "";
  }

  if (share && latitude && longitude) {
    share.addEventListener("change", () => {
      latitude.value = "";
      longitude.value = "";
      if (!share.checked) {
        say("");
        return;
      }
      if (!navigator.geolocation) {
        say("failed");
        return;
      }
      say("asking");
      navigator.geolocation.getCurrentPosition(
        (position) => {
          if (!share.checked) return;
          latitude.value = position.coords.latitude.toFixed(6);
          longitude.value = position.coords.longitude.toFixed(6);
          say("found");
        },
        () => say("failed"),
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
      );
    });
  }
})();

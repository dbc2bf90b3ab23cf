// The street's guidelines checked while a design is filled in: the form carries the limits (data-max-*), each
// rule's sentence is on the page already (translated, hidden); this shows the ones the typed design breaks,
// next to the save button. The server checks the saved version again: this is only a head start.
document.querySelectorAll("form[data-guidelines]").forEach((form) => {
  const live = form.querySelector("[data-guideline-live]");
  if (!live) {
    return;
  }
  const number = (name) => {
    const field = form.elements.namedItem(name);
    const value = field ? parseFloat(String(field.value).replace(",", ".")) : NaN;
    return Number.isFinite(value) ? value : null;
  };
  const limit = (name) => {
    const value = parseFloat(form.dataset[name]);
    return Number.isFinite(value) ? value : null;
  };
  const check = () => {
    const kind = form.elements.namedItem("sign_type")?.value || "";
    const lit = form.elements.namedItem("illuminated")?.checked || false;
    const [width, height, projection, clearance] = ["width_m", "height_m", "projection_m", "clearance_m"].map(number);
    const broken = {
      width: limit("maxWidth") !== null && width !== null && width > limit("maxWidth"),
      height: height !== null && height > limit("maxHeight"),
      "projection-wall": kind !== "free_standing" && kind !== "projecting" && projection !== null
        && projection > limit("maxProjectionWall"),
      "projection-projecting": kind === "projecting" && projection !== null
        && projection > limit("maxProjectionProjecting"),
      clearance: (kind === "projecting" || kind === "canopy") && clearance !== null
        && clearance < limit("minClearance"),
      lighting: lit && form.dataset.lightingAllowed === "0",
    };
    let any = false;
    live.querySelectorAll("[data-rule]").forEach((item) => {
      item.hidden = !broken[item.dataset.rule];
      any = any || !item.hidden;
    });
    live.hidden = !any;
  };
  form.addEventListener("input", check);
  form.addEventListener("change", check);
  check();
});

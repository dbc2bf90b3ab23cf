// A search box over a long select (a street's shops): typing part of a name or a house number leaves only the
// matching options. The box is `<input data-select-filter="ID of the select" hidden>`; this script shows it.
// Without the script the box stays hidden and the plain select works as before.
(() => {
  function matches(option, wanted) {
    // The empty choice ("—", "not in the list") and the current choice stay, so the select never looks empty.
    return !wanted || !option.value || option.value === "0" || option.selected ||
      option.textContent.toLowerCase().includes(wanted);
  }

  function filter(select, wanted) {
    for (const option of select.options) option.hidden = !matches(option, wanted);
    for (const group of select.querySelectorAll("optgroup")) {
      group.hidden = ![...group.querySelectorAll("option")].some((option) => !option.hidden);
    }
  }

  for (const box of document.querySelectorAll("input[data-select-filter]")) {
    const select = document.getElementById(box.dataset.selectFilter);
    if (!select) continue;
    box.hidden = false;
    box.addEventListener("input", () => filter(select, box.value.trim().toLowerCase()));
  }
})();

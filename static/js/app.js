// Small progressive enhancements; every page works without this script.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  // Disable submit buttons after the first submit, so a double tap sends the form once.
  if (form.dataset.submitted === "1") {
    event.preventDefault();
    return;
  }
  form.dataset.submitted = "1";
  window.setTimeout(() => { form.dataset.submitted = ""; }, 5000);
});

document.addEventListener("click", (event) => {
  const field = event.target.closest(".copy-field");
  if (field) {
    field.select();
  }
});

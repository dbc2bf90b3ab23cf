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

// What a person typed into a form marked `data-keep-draft` survives stepping aside (to record a signboard the form
// needs, or a page reload): it is kept in this tab's session storage until the form is sent, and put back into
// fields that come back empty.
document.querySelectorAll("form[data-keep-draft]").forEach((form) => {
  const key = `draft:${form.dataset.keepDraft}`;
  const fields = () => [...form.querySelectorAll("input[type=text], input:not([type]), textarea")]
    .filter((field) => field.name && field.name !== "csrf_token" && field.name !== "idempotency_key");
  let saved = {};
  try {
    saved = JSON.parse(window.sessionStorage.getItem(key) || "{}");
  } catch (error) {
    saved = {};
  }
  fields().forEach((field) => {
    if (!field.value && typeof saved[field.name] === "string") {
      field.value = saved[field.name];
    }
  });
  form.addEventListener("input", () => {
    const draft = {};
    fields().forEach((field) => { draft[field.name] = field.value; });
    try {
      window.sessionStorage.setItem(key, JSON.stringify(draft));
    } catch (error) { /* storage full or refused: the draft is simply not kept */ }
  });
  form.addEventListener("submit", () => window.sessionStorage.removeItem(key));
});

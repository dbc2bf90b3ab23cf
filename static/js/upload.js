// Photo uploads on phones: previews, shrinking large photos before sending (to save mobile data),
// and a progress bar. Without this script the same forms post normally; the server never relies on it.
(() => {
  const SHRINK_ABOVE_BYTES = 3 * 1024 * 1024;
  const LONG_EDGE = 2560;
  const SHRINKABLE = new Set(["image/jpeg", "image/png", "image/webp"]);

  function previewFiles(field) {
    const list = field.querySelector(".photo-preview");
    if (!list) return;
    list.replaceChildren();
    for (const input of field.querySelectorAll("input[type=file]")) {
      for (const file of input.files) {
        const item = document.createElement("li");
        if (file.type.startsWith("image/") && file.type !== "image/heic" && file.type !== "image/heif") {
          const img = document.createElement("img");
          img.alt = ""; // the file's name is written next to it
          img.src = URL.createObjectURL(file);
          img.onload = () => URL.revokeObjectURL(img.src);
          item.append(img);
        }
        const name = document.createElement("span");
        name.textContent = file.name;
        item.append(name);
        list.append(item);
      }
    }
  }

  async function shrink(file) {
    if (!SHRINKABLE.has(file.type) || file.size < SHRINK_ABOVE_BYTES || !window.createImageBitmap) {
      return file;
    }
    try {
      const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
      const scale = Math.min(1, LONG_EDGE / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.88));
      if (!blob || blob.size >= file.size) return file;
      return new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg", lastModified: file.lastModified });
    } catch (error) {
      return file; // the server handles the original
    }
  }

  async function submitWithProgress(form, submitter) {
    const progress = form.querySelector(".upload-progress");
    const bar = progress.querySelector("progress");
    const text = progress.querySelector(".upload-progress-text");
    progress.hidden = false;
    text.textContent = text.dataset.shrinking;
    const data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    for (const input of form.querySelectorAll("input[type=file]")) {
      data.delete(input.name);
    }
    for (const input of form.querySelectorAll("input[type=file]")) {
      for (const file of input.files) {
        data.append(input.name, await shrink(file), file.name);
      }
    }
    text.textContent = text.dataset.sending;
    const xhr = new XMLHttpRequest();
    // The attributes, not form.method / form.action: a field named "method" (how a payment was made) would
    // stand in for the property, and the request would never be sent.
    xhr.open(form.getAttribute("method") || "POST", form.getAttribute("action") || window.location.href);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
    });
    xhr.addEventListener("load", () => {
      // Show whatever page the server answered with (the redirect target or the form with errors).
      const url = xhr.responseURL || window.location.href;
      document.open();
      document.write(xhr.responseText);
      document.close();
      window.history.replaceState(null, "", url);
      // Open the answer at its top, where its messages are, as a plain form post would.
      window.scrollTo(0, 0);
    });
    xhr.addEventListener("error", () => {
      progress.hidden = true;
      delete form.dataset.submitted;
      form.submit();
    });
    xhr.send(data);
  }

  document.addEventListener("change", (event) => {
    const field = event.target.closest("[data-photo-field]");
    if (field) previewFiles(field);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-upload-form]");
    if (!form || !window.FormData || !window.XMLHttpRequest || event.defaultPrevented) return;
    const hasFiles = [...form.querySelectorAll("input[type=file]")].some((input) => input.files.length);
    if (!hasFiles) return;
    event.preventDefault();
    submitWithProgress(form, event.submitter);
  });
})();

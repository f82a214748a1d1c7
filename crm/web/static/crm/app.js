// Small behaviours the layout needs; everything else is HTMX attributes in the templates.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-toggle-sidebar]");
  if (toggle) {
    document.getElementById("sidebar")?.classList.toggle("open");
  }
  const confirmButton = event.target.closest("[data-confirm]");
  if (confirmButton && !window.confirm(confirmButton.dataset.confirm)) {
    event.preventDefault();
    event.stopPropagation();
  }
});

// Auto-submit filter forms when a select changes (progressive: the form also has a button).
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-autosubmit]");
  if (form && event.target.matches("select, input[type=date]")) {
    form.requestSubmit();
  }
});

// Show HTMX errors (a 4xx/5xx swap target missing) instead of failing silently.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  if (status >= 500) {
    window.alert(document.body.dataset.errorMessage || "Server error (" + status + ")");
  }
});

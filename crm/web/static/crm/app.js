// Small behaviours the layout needs; everything else is HTMX attributes in the templates.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-toggle-sidebar]");
  if (toggle) {
    document.getElementById("sidebar")?.classList.toggle("open");
  }
});

// --- The app's confirmation dialog (web/_confirm_dialog.html), instead of window.confirm() ---
// A button with data-confirm opens it; its "OK" becomes a real submit button of the opener's
// form, carrying the opener's name, value and formaction, so the server gets the request the
// button itself would have sent (HTMX forms included, since HTMX listens for the submit).
const FOCUSABLE = "button:not([disabled]), [href], input:not([type=hidden]):not([disabled]), " +
  "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";
let confirmOpener = null;

function confirmFill(text, selector) {
  if (!selector || !text.includes("[[choice]]")) return text;
  const source = document.querySelector(selector);
  const choice = source && source.tagName === "SELECT"
    ? (source.selectedOptions[0]?.text || "")
    : String(document.querySelectorAll(selector).length);
  return text.replaceAll("[[choice]]", choice);
}

function confirmOpen(opener) {
  const dialog = document.getElementById("confirm-dialog");
  const form = opener.form;
  if (!dialog || !form || typeof dialog.showModal !== "function") return false;
  if (!form.noValidate && !form.reportValidity()) return true;  // e.g. no new owner chosen yet
  const needed = opener.dataset.confirmRequire && document.querySelector(opener.dataset.confirmRequire);
  if (needed && !needed.value) {
    // A form with several actions cannot mark this field required for all of them.
    needed.required = true;
    needed.reportValidity();
    needed.required = false;
    needed.focus();
    return true;
  }
  if (!form.id) form.id = "confirm-form-" + Math.random().toString(36).slice(2);
  const title = dialog.querySelector("#confirm-dialog-title");
  title.textContent = opener.dataset.confirmTitle || title.dataset.default;
  dialog.querySelector("#confirm-dialog-message").textContent =
    confirmFill(opener.dataset.confirm, opener.dataset.confirmFill);
  const ok = dialog.querySelector("[data-dialog-confirm]");
  ok.textContent = opener.dataset.confirmLabel || opener.textContent.trim();
  ok.className = "btn " + (opener.classList.contains("btn-danger") ? "btn-danger" : "btn-primary");
  ok.setAttribute("form", form.id);
  for (const attr of ["name", "value", "formaction", "formmethod"]) {
    if (opener.hasAttribute(attr)) ok.setAttribute(attr, opener.getAttribute(attr));
    else ok.removeAttribute(attr);
  }
  confirmOpener = opener;
  dialog.showModal();
  // The harmless choice has the focus: Enter alone never deletes anything.
  dialog.querySelector("[data-dialog-cancel]").focus();
  return true;
}

document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-confirm]");
  if (opener && !opener.closest("dialog")) {
    if (confirmOpen(opener)) {
      event.preventDefault();
      event.stopPropagation();
    } else if (!window.confirm(opener.dataset.confirm)) {
      event.preventDefault();  // no <dialog> support: the browser's own question, as before
      event.stopPropagation();
    }
    return;
  }
  if (event.target.closest("[data-dialog-cancel]")) {
    event.target.closest("dialog")?.close();
  }
}, true);

document.addEventListener("submit", (event) => {
  const dialog = document.getElementById("confirm-dialog");
  if (dialog?.open && event.submitter?.matches("[data-dialog-confirm]")) dialog.close();
}, true);

document.addEventListener("keydown", (event) => {
  const dialog = document.querySelector("dialog[open][data-confirm-box]");
  if (!dialog || event.key !== "Tab") return;
  // Keep Tab inside the dialog (a modal dialog makes the page inert, but Tab would still
  // leave it for the browser's own controls).
  const items = Array.from(dialog.querySelectorAll(FOCUSABLE));
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
    event.preventDefault();
    first.focus();
  }
});

// "close" does not bubble: listen in the capture phase. Esc (the dialog's "cancel") ends here too.
document.addEventListener("close", (event) => {
  if (!event.target.matches?.("[data-confirm-box]")) return;
  if (confirmOpener?.isConnected) confirmOpener.focus();
  confirmOpener = null;
}, true);

// --- After a failed save: bring the first problem into view and give it the focus ---------
// The summary banner says that nothing was saved; the focus goes to the first invalid field
// (aria-invalid="true"), wherever it sits on the page, so a keyboard or screen-reader user
// lands on it and a sighted user sees it. Works for full pages and for HTMX swaps.
function focusFirstError(root) {
  const scope = root && root.querySelector ? root : document;
  const summary = scope.querySelector("[data-error-summary]");
  if (!summary) return;
  const form = summary.closest("form") || scope;
  const field = form.querySelector("[aria-invalid='true']");
  const target = field || summary;
  target.scrollIntoView({ block: "center" });
  target.focus({ preventScroll: true });
}

document.addEventListener("DOMContentLoaded", () => focusFirstError(document));
document.addEventListener("htmx:afterSwap", (event) => {
  const swapped = event.detail.elt;  // an outerHTML swap leaves the old element detached
  focusFirstError(swapped?.isConnected ? swapped : document);
});

// --- Selection in lists: "select all on this page", and the bulk bar's count ---------------
// A list marks its form with data-bulk; boxes are input[name=ids], the header box
// [data-select-all]; the bar [data-bulk-bar] says how many are selected and is disabled
// while none are.
function bulkRefresh(form) {
  const boxes = Array.from(form.querySelectorAll("input[name=ids]"));
  const checked = boxes.filter((b) => b.checked).length;
  const all = form.querySelector("[data-select-all]");
  if (all) {
    all.checked = checked > 0 && checked === boxes.length;
    all.indeterminate = checked > 0 && checked < boxes.length;
  }
  const bar = form.querySelector("[data-bulk-bar]");
  if (bar) {
    bar.dataset.count = String(checked);
    bar.querySelectorAll("[data-bulk-count]").forEach((el) => { el.textContent = String(checked); });
    bar.querySelectorAll("button").forEach((b) => { b.disabled = checked === 0; });
  }
}

document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-bulk]");
  if (!form) return;
  if (event.target.matches("[data-select-all]")) {
    form.querySelectorAll("input[name=ids]").forEach((b) => { b.checked = event.target.checked; });
  }
  bulkRefresh(form);
});

function bulkInit(root) {
  (root.querySelectorAll ? root : document).querySelectorAll("form[data-bulk]").forEach(bulkRefresh);
}
document.addEventListener("DOMContentLoaded", () => bulkInit(document));
document.addEventListener("htmx:afterSettle", () => bulkInit(document));

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

// A part of a page marked data-swap-errors (the attachments panel) answers its refusals (413,
// 422, 403 ...) with itself, its messages inside: let HTMX swap them in instead of dropping them.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status >= 400 && status < 500 && event.detail.elt?.closest?.("[data-swap-errors]")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// File inputs with data-max-bytes refuse a too-large file before it is sent (the server checks
// again): the browser shows data-too-large-message, [[names]] replaced by the files' names.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!input.matches?.("input[type=file][data-max-bytes]")) return;
  const max = Number(input.dataset.maxBytes);
  const big = Array.from(input.files || []).filter((file) => file.size > max);
  const message = input.dataset.tooLargeMessage || "";
  input.setCustomValidity(big.length ? message.replace("[[names]]", big.map((f) => f.name).join(", ")) : "");
  if (big.length) input.reportValidity();
});

// --- Form dialogs (win, lose, assign, disqualify ...): opened by a button with
// data-dialog-open="<id>", closed by data-dialog-close ------------------------------------
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-dialog-open]");
  if (opener) {
    const dialog = document.getElementById(opener.dataset.dialogOpen);
    if (dialog && typeof dialog.showModal === "function") {
      dialog.showModal();
      dialog.querySelector("input:not([type=hidden]), select, textarea")?.focus();
    }
    return;
  }
  if (event.target.closest("[data-dialog-close]")) {
    event.target.closest("dialog")?.close();
  }
});

document.addEventListener("DOMContentLoaded", () => {
  // A refused form comes back with its dialog to reopen, showing the field errors.
  const dialog = document.querySelector("dialog[data-open-on-load]");
  if (dialog && typeof dialog.showModal === "function") {
    dialog.showModal();
    (dialog.querySelector("[aria-invalid='true']") || dialog.querySelector(".has-error input, .has-error select") ||
      dialog.querySelector("input:not([type=hidden]), select"))?.focus();
  }
});

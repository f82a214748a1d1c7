// Customer pages: contact rows on the create form, HTMX error swaps, the phone filter panel.
// (CSP allows no inline script; this file is loaded with the page's nonce.)

// Contacts on the "new customer" form: add a row by cloning the <template>, remove a row.
// Without JavaScript the same buttons submit the form and the server adds/removes the row.
document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-add-contact]");
  if (add) {
    const rows = document.querySelector("[data-contact-rows]");
    const template = document.getElementById("contact-row-template");
    if (!rows || !template) return;
    event.preventDefault();
    const index = Number(rows.dataset.nextIndex || rows.children.length);
    rows.dataset.nextIndex = String(index + 1);
    rows.insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__prefix__", String(index)));
    if (!rows.querySelector("input[type=radio]:checked")) {
      const first = rows.querySelector("input[type=radio]");
      if (first) first.checked = true;
    }
    rows.lastElementChild?.querySelector("input")?.focus();
    return;
  }
  const remove = event.target.closest("[data-remove-contact]");
  if (remove) {
    const row = remove.closest("[data-contact-row]");
    const rows = row?.parentElement;
    if (!row || !rows) return;
    event.preventDefault();
    const wasPrimary = row.querySelector("input[type=radio]")?.checked;
    row.remove();
    if (wasPrimary) {
      const first = rows.querySelector("input[type=radio]");
      if (first) first.checked = true;
    }
  }
});

// Validation errors (422) and conflicts (409) come back as the form with its inline errors,
// and a refused inline action (403/404) as a notice the server retargets to the main area:
// let HTMX swap them in instead of dropping them.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if ([403, 404, 409, 422].includes(status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// Filter forms send only the filters in use, so the pushed URL stays short and shareable.
document.addEventListener("htmx:configRequest", (event) => {
  const form = event.detail.elt;
  if (event.detail.verb !== "get" || !form.matches?.("form[data-drop-empty-params]")) return;
  const data = event.detail.formData;
  for (const key of Array.from(new Set(data.keys()))) {
    if (data.getAll(key).every((value) => value === "")) data.delete(key);
  }
});

// On a phone the filter panel starts folded unless a filter is in use.
document.addEventListener("DOMContentLoaded", () => {
  if (window.matchMedia("(max-width: 720px)").matches) {
    document.querySelectorAll("details[data-collapse-on-phone]").forEach((d) => {
      d.open = false;
    });
  }
});

// The timeline's kind chips scroll sideways on a phone: keep the chosen ones in view after a
// chip swaps the tab in, and on a page opened with a filter.
function timelineChipsReveal() {
  const active = document.querySelector(".timeline-chips .chip.active[data-kind]:not([data-kind=''])");
  if (active) active.scrollIntoView({ block: "nearest", inline: "nearest" });
}
document.addEventListener("htmx:afterSettle", timelineChipsReveal);
document.addEventListener("DOMContentLoaded", timelineChipsReveal);

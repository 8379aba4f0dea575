// The espace candidat works without JavaScript: this only enhances it (one submission per form,
// confirmation dialogs, uploads with progress and drag and drop, inline validation, commune search).
document.documentElement.setAttribute("data-ec-js", "");
const fr = document.documentElement.lang !== "en";
const MESSAGES = fr ? {
  required: "Ce champ est obligatoire.",
  email: "L'adresse mail n'est pas valide.",
  same: "La confirmation ne correspond pas.",
  min: (n) => `Ce champ doit contenir au moins ${n} caractères.`,
  type: "Ce type de fichier n'est pas accepté : déposez un fichier PDF, JPG ou PNG.",
  size: "Le fichier dépasse 5 Mo : compressez-le avant de le déposer.",
  none: "Choisissez un fichier à déposer.",
  failed: "L'envoi a échoué. Vérifiez votre connexion et réessayez.",
  sending: "Envoi en cours…",
} : {
  required: "This field is required.",
  email: "This email address is not valid.",
  same: "The confirmation does not match.",
  min: (n) => `This field needs at least ${n} characters.`,
  type: "This type of file is not accepted: upload a PDF, JPG or PNG file.",
  size: "The file is larger than 5 MB: compress it before uploading it.",
  none: "Choose a file to upload.",
  failed: "The upload failed. Check your connection and try again.",
  sending: "Uploading…",
};

// One submission per form: a double click sends one request.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
  if (form.dataset.submitted === "1") { event.preventDefault(); return; }
  if (form.hasAttribute("data-once") || form.method === "post") {
    form.dataset.submitted = "1";
    for (const button of form.querySelectorAll("button[type=submit]")) button.setAttribute("aria-disabled", "true");
  }
});

// Confirmation dialogs instead of the confirmation pages.
for (const link of document.querySelectorAll("a[data-dialog]")) {
  const dialog = document.getElementById(link.dataset.dialog);
  if (!dialog || typeof dialog.showModal !== "function") continue;
  link.addEventListener("click", (event) => { event.preventDefault(); dialog.showModal(); });
  for (const close of dialog.querySelectorAll("[data-close]")) close.addEventListener("click", () => dialog.close());
}

// Inline validation: a message appears when leaving a field whose value is wrong, and goes as
// soon as what is typed is right. Never on leaving a field that is right: leaving it by pressing
// the submit button would move the button under the pointer (the message above it disappearing)
// and the click would be lost. The server checks again.
function showError(input, message) {
  const box = document.getElementById(`${input.id}-desc-error`);
  const group = input.closest(".fr-input-group");
  if (!box) return;
  box.textContent = message || "";
  box.classList.toggle("ec-hidden", !message);
  group?.classList.toggle("fr-input-group--error", Boolean(message));
  input.classList.toggle("fr-input--error", Boolean(message));
  if (message) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", box.id); }
  else input.removeAttribute("aria-invalid");
}
function check(input) {
  const value = input.value.trim();
  if (input.required && !value) return MESSAGES.required;
  if (value && input.type === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) return MESSAGES.email;
  const min = Number(input.dataset.minLength || 0);
  if (value && min && input.value.length < min) return MESSAGES.min(min);
  const other = input.dataset.sameAs && input.form?.elements.namedItem(input.dataset.sameAs);
  if (value && other && other.value.trim().toLowerCase() !== value.toLowerCase()) return MESSAGES.same;
  return "";
}
for (const form of document.querySelectorAll("form[data-validate]")) {
  for (const input of form.querySelectorAll("input.fr-input")) {
    input.addEventListener("blur", () => {
      const message = check(input);
      if (message && (input.value || input.getAttribute("aria-invalid"))) showError(input, message);
    });
    input.addEventListener("input", () => { if (input.getAttribute("aria-invalid") && !check(input)) showError(input, ""); });
  }
}

// Uploads: progress bar, drag and drop, the type and size said before sending.
const ACCEPTED = /\.(pdf|jpe?g|png)$/i;
function upload(form) {
  const input = form.querySelector("input[type=file]");
  const error = form.querySelector("[data-upload-error]");
  const progress = form.querySelector("progress");
  const say = (message) => { error.textContent = message; error.classList.toggle("ec-hidden", !message); };
  const file = input.files[0];
  if (!file) { say(MESSAGES.none); return; }
  if (!ACCEPTED.test(file.name)) { say(MESSAGES.type); return; }
  if (file.size > Number(input.dataset.maxSize)) { say(MESSAGES.size); return; }
  say("");
  const data = new FormData();
  data.append("csrf", form.elements.namedItem("csrf").value);
  data.append("fichier", file, file.name);
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.setRequestHeader("X-Requested-With", "ecandidat");
  progress.classList.remove("ec-hidden");
  progress.value = 0;
  progress.setAttribute("aria-valuetext", MESSAGES.sending);
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) progress.value = Math.round((100 * event.loaded) / event.total);
  });
  request.addEventListener("load", () => {
    let reply = {};
    try { reply = JSON.parse(request.responseText); } catch { reply = {}; }
    if (reply.ok && reply.redirect) {
      progress.value = 100;
      const target = new URL(reply.redirect, window.location.href);
      if (target.pathname === window.location.pathname && target.search === window.location.search) {
        window.history.replaceState(null, "", target.href);
        window.location.reload();
      } else window.location.assign(target.href);
      return;
    }
    if (request.status === 401 || request.status === 403) { window.location.reload(); return; }
    progress.classList.add("ec-hidden");
    form.dataset.submitted = "";
    for (const button of form.querySelectorAll("button[type=submit]")) button.removeAttribute("aria-disabled");
    say(reply.message || MESSAGES.failed);
  });
  request.addEventListener("error", () => { progress.classList.add("ec-hidden"); form.dataset.submitted = ""; say(MESSAGES.failed); });
  request.send(data);
}
for (const form of document.querySelectorAll("form[data-upload]")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (form.dataset.submitted === "1") return;
    form.dataset.submitted = "1";
    upload(form);
  });
  const zone = form.querySelector("[data-dropzone]");
  const input = form.querySelector("input[type=file]");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("ec-dragover"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("ec-dragover"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("ec-dragover");
    if (!event.dataTransfer?.files?.length) return;
    input.files = event.dataTransfer.files;
    form.requestSubmit();
  });
}

// Commune search: the list fills as one types (the same public API route the server uses).
for (const box of document.querySelectorAll("[data-commune]")) {
  const search = box.querySelector("[data-commune-search]");
  const select = box.querySelector("[data-commune-select]");
  let timer;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    const text = search.value.trim();
    if (text.length < 2) return;
    timer = setTimeout(async () => {
      const query = /^\d{5}$/.test(text) ? `code_postal=${text}` : `nom=${encodeURIComponent(text)}`;
      const response = await fetch(`/api/v1/referentiels/communes?${query}&limit=30`, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const { items } = await response.json();
      select.replaceChildren(...items.map((c) => new Option(`${c.nom} (${c.codes_postaux.join(", ") || c.departement})`, c.code)));
      if (items.length) select.value = items[0].code;
    }, 250);
  });
}

// Back to a page from the history: its forms can be sent again.
window.addEventListener("pageshow", () => {
  for (const form of document.forms) form.dataset.submitted = "";
});

// Espace gestion, review page: keyboard shortcuts (j/k next/previous piece, v validate it,
// r write the refusal comment, n next candidature). Each is also a button or link of the page.
const pieces = [...document.querySelectorAll(".ec-review-piece")];
if (pieces.length || document.getElementById("suivante")) {
  let current = Math.max(0, pieces.findIndex((p) => `#${p.id}` === location.hash));
  const focusPiece = (index) => {
    if (!pieces.length) return;
    current = Math.min(pieces.length - 1, Math.max(0, index));
    pieces.forEach((p, i) => p.classList.toggle("ec-piece-current", i === current));
    pieces[current].focus();
    pieces[current].scrollIntoView({ block: "start" });
  };
  if (location.hash.startsWith("#piece-")) focusPiece(current);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
    const piece = pieces[current];
    const act = (selector) => {
      const element = piece?.querySelector(selector);
      if (!element) return;
      event.preventDefault();
      if (element instanceof HTMLTextAreaElement) element.focus(); else element.click();
    };
    if (event.key === "j") { event.preventDefault(); focusPiece(current + 1); }
    else if (event.key === "k") { event.preventDefault(); focusPiece(current - 1); }
    else if (event.key === "v") act("[data-key=v]");
    else if (event.key === "r") act("[data-key=r]");
    else if (event.key === "n") { const next = document.getElementById("suivante"); if (next) { event.preventDefault(); next.click(); } }
  });
}

// What stands before a page's rows (the staff list's filters): folded on a phone, and a button
// to unfold it; without JavaScript it stays open.
for (const block of document.querySelectorAll("[data-replier-etroit]")) {
  const button = document.querySelector(`button[aria-controls="${block.id}"]`);
  const show = (open) => {
    block.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
  };
  button.hidden = false;
  button.addEventListener("click", () => show(block.hidden));
  show(!window.matchMedia("(max-width: 47.99em)").matches);
}

// Espace gestion, list: « Tout cocher » checks every row of the page (without JavaScript, a link
// reloads the page with every row checked). It shows how many rows are checked: all, none, some.
for (const all of document.querySelectorAll("[data-check-all]")) {
  const boxes = [...document.querySelectorAll(`input[name="${all.dataset.checkAll}"]`)];
  const sync = () => {
    const checked = boxes.filter((box) => box.checked).length;
    all.checked = checked > 0 && checked === boxes.length;
    all.indeterminate = checked > 0 && checked < boxes.length;
  };
  all.closest("[hidden]")?.removeAttribute("hidden");
  all.addEventListener("change", () => { for (const box of boxes) box.checked = all.checked; sync(); });
  for (const box of boxes) box.addEventListener("change", sync);
  sync();
}

// The skip link « Menu »: on a phone the navigation is in the header's menu dialog, closed, so the
// link opens the dialog and puts the focus on the navigation's first link. On a wide screen (the
// menu button hidden) the link goes to the navigation in the page, as without JavaScript.
const menuButton = document.getElementById("bouton-menu");
const menuDialog = document.getElementById("menu-principal");
// The dialog becomes visible over a few frames: the focus is given once the link can take it.
const focusNavigation = (frames) => {
  const first = menuDialog.querySelector("#navigation a");
  first?.focus();
  if (first && document.activeElement !== first && frames > 0) requestAnimationFrame(() => focusNavigation(frames - 1));
};
for (const link of document.querySelectorAll('.fr-skiplinks a[href="#navigation"]')) {
  link.addEventListener("click", (event) => {
    if (!window.dsfr || !menuButton || !menuDialog || menuButton.offsetParent === null) return;
    event.preventDefault();
    menuDialog.addEventListener("dsfr.disclose", () => focusNavigation(60), { once: true });
    window.dsfr(menuDialog).modal.disclose();
  });
}

// La durée de la session (RGAA 13.1): a session ends after the platform's idle timeout without a
// request (web/inactivite.py), and at the end of its lifetime whatever happens (the gateway's
// `ecandidat_session_fin` cookie). Two minutes before the idle timeout, a dialog says when and
// offers « Rester connecté »; someone typing or clicking in the page is kept connected without
// being asked. Two minutes before the lifetime's end, which nothing puts off, a dialog says when,
// so that what is being typed can be saved. Once it has ended, the dialog says so, and what was
// typed in the page's form is kept (in this tab's sessionStorage) until the person, logged in
// again, is back on the page: it is put back in the form. The tabs of the browser share the time
// of the last request (localStorage).
// On the way to logging in (a login page, with or without an old session's cookie) there is no
// session to watch, and a kept draft waits.
const sessionDialog = document.querySelector("form[data-connexion]") ? null : document.getElementById("session-expiration");
const DRAFT = "ec-saisie";
const draftFields = (form) => [...form.elements].filter((field) => field.name && !field.disabled
  && !["hidden", "password", "file", "submit", "button", "reset"].includes(field.type));
function formDraft(form, dirtyOnly) {
  const fields = draftFields(form);
  const changed = fields.some((field) => (field.type === "checkbox" || field.type === "radio")
    ? field.checked !== field.defaultChecked
    : field.tagName === "SELECT" ? [...field.options].some((option) => option.selected !== option.defaultSelected)
    : field.value !== field.defaultValue);
  if (!fields.length || (dirtyOnly && !changed)) return null;
  const values = [];
  for (const field of fields) {
    if ((field.type === "checkbox" || field.type === "radio") && !field.checked) continue;
    if (field.tagName === "SELECT") for (const option of field.selectedOptions) values.push([field.name, option.value, option.text]);
    else values.push([field.name, field.value]);
  }
  return { path: location.pathname, action: form.getAttribute("action") || "", compte: document.body.dataset.compte || "", values };
}
function keepDraft(draft) {
  if (!draft) return;
  try { sessionStorage.setItem(DRAFT, JSON.stringify(draft)); } catch { /* storage refused: nothing kept */ }
}
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.method === "post" && !form.hasAttribute("data-connexion")) keepDraft(formDraft(form, false));
});
(() => {
  let draft = null;
  try { draft = JSON.parse(sessionStorage.getItem(DRAFT) || "null"); } catch { draft = null; }
  if (!draft) return;
  if (!sessionDialog) {  // not logged in, or logging in (the login page, the ENT's return…): the draft waits
    draft.interrupted = true;
    keepDraft(draft);
    return;
  }
  sessionStorage.removeItem(DRAFT);
  const form = [...document.forms].find((f) => (f.getAttribute("action") || "") === draft.action);
  if (!draft.interrupted || draft.path !== location.pathname || !draft.compte || draft.compte !== document.body.dataset.compte || !form) return;
  const byName = new Map();
  const labels = new Map();
  for (const [name, value, label] of draft.values) {
    byName.set(name, [...(byName.get(name) || []), value]);
    if (label !== undefined) labels.set(`${name}=${value}`, label);
  }
  for (const field of draftFields(form)) {
    const values = byName.get(field.name) || [];
    if (field.type === "checkbox" || field.type === "radio") field.checked = values.includes(field.value);
    else if (field.tagName === "SELECT") {
      // A commune found by the search as one typed is not among the options the page was served with.
      if (field.hasAttribute("data-commune-select")) {
        for (const value of values) {
          if (value && ![...field.options].some((option) => option.value === value)) field.add(new Option(labels.get(`${field.name}=${value}`) || value, value));
        }
      }
      for (const option of field.options) option.selected = values.includes(option.value);
    } else if (byName.has(field.name)) field.value = values.shift() ?? "";
  }
  const notice = document.getElementById("saisie-reprise");
  if (notice) form.before(notice.content.cloneNode(true));
})();

if (sessionDialog && typeof sessionDialog.showModal === "function") {
  const ACTIVITY = "ec-session-activite";
  const WARN = 120_000;  // the warning, before the end
  // The platform writes a session's last request to the minute and the gateway keeps a session
  // 30 s: the session may end up to 90 s before the idle timeout counted from this page's load.
  const SLACK = 90_000;
  const idle = Number(sessionDialog.dataset.idle) * 1000;
  const before = sessionDialog.querySelector("[data-etat=avant]");
  const last = sessionDialog.querySelector("[data-etat=fin]");
  const after = sessionDialog.querySelector("[data-etat=apres]");
  const lifetimeEnd = () => {  // the session's end whatever happens; none known: never
    const found = document.cookie.match(/(?:^|;\s*)ecandidat_session_fin=(\d+)/);
    return found ? Number(found[1]) * 1000 : Infinity;
  };
  const hour = (at) => fr  // « 14 h 05 », as French writes a time
    ? `${at.getHours()}\u00a0h\u00a0${String(at.getMinutes()).padStart(2, "0")}`
    : at.toLocaleTimeString("en", { hour: "numeric", minute: "2-digit" });
  const failure = sessionDialog.querySelector("[data-erreur]");
  const lastRequest = () => Math.max(loadedAt, Number(localStorage.getItem(ACTIVITY) || 0));
  const noteRequest = (at) => { try { localStorage.setItem(ACTIVITY, String(at)); } catch { /* private mode */ } };
  const loadedAt = Date.now();
  noteRequest(Math.max(loadedAt, Number(localStorage.getItem(ACTIVITY) || 0)));
  let lastInput = 0;
  let state = "active";
  for (const type of ["keydown", "input", "pointerdown"]) {
    document.addEventListener(type, (event) => { if (!sessionDialog.contains(event.target)) lastInput = Date.now(); }, { capture: true, passive: true });
  }
  const show = (which) => {
    state = which;
    before.hidden = which !== "warned";
    last.hidden = which !== "final";
    after.hidden = which !== "ended";
    const heading = { warned: "avant", final: "fin", ended: "apres" }[which];
    sessionDialog.setAttribute("aria-labelledby", `session-expiration-${heading}`);
    if (!sessionDialog.open) sessionDialog.showModal();
  };
  const prolong = async (silently) => {
    failure.classList.add("ec-hidden");
    let response;
    try {
      response = await fetch(sessionDialog.dataset.prolongation, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": sessionDialog.dataset.csrf, Accept: "application/json" },
      });
    } catch {
      if (!silently) failure.classList.remove("ec-hidden");
      return;
    }
    if (response.status === 401) { end(); return; }
    if (!response.ok) { if (!silently) failure.classList.remove("ec-hidden"); return; }
    noteRequest(Date.now());
    state = "active";
    if (sessionDialog.open) sessionDialog.close();
  };
  const end = () => {
    for (const form of document.forms) {
      if (form.method === "post" && !form.closest("dialog")) { const draft = formDraft(form, true); if (draft) { keepDraft(draft); break; } }
    }
    show("ended");
  };
  const tick = () => {
    if (state === "ended") return;
    const idleEnd = lastRequest() + idle - SLACK;
    const finalEnd = lifetimeEnd();
    const endsAt = Math.min(idleEnd, finalEnd);
    const now = Date.now();
    if (now >= endsAt) { end(); return; }
    if (state === "final") return;  // told once; nothing puts it off
    if (now < endsAt - WARN) {
      if (state === "warned" && sessionDialog.open) sessionDialog.close();  // another tab kept it alive
      state = "active";
      return;
    }
    if (finalEnd <= idleEnd) {
      last.querySelector("[data-heure-fin]").textContent = hour(new Date(finalEnd));
      show("final");
      return;
    }
    if (state !== "active") return;  // warned already, or a prolongation under way
    if (lastInput > lastRequest()) { state = "prolonging"; prolong(true).finally(() => { if (state === "prolonging") state = "active"; }); return; }
    before.querySelector("[data-heure]").textContent = hour(new Date(endsAt));
    show("warned");
  };
  sessionDialog.querySelector("[data-prolonger]").addEventListener("click", () => prolong(false));
  for (const button of sessionDialog.querySelectorAll("[data-close]")) button.addEventListener("click", () => sessionDialog.close());
  window.addEventListener("storage", (event) => { if (event.key === ACTIVITY) tick(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });
  setInterval(tick, 10_000);
}

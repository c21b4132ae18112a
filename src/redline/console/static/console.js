// redline console: the only script. Signs an authorization in the browser with the approver's own
// Ed25519 key (WebCrypto). The key file is read here and never sent: its input has no name, so
// the form cannot submit it; only the signature goes to the server, which verifies it against the
// operator's registered public key. The bytes signed are the canonical JSON of the authorization
// (without its signature) that the page carries in data-message.
"use strict";

function pemToDer(pem) {
  const m = pem.match(/-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/);
  if (!m) throw new Error("this is not an operator key file (PKCS#8 PEM: BEGIN PRIVATE KEY)");
  const bin = atob(m[1].replace(/\s+/g, ""));
  const der = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
  return der;
}

function b64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToB64url(bytes) {
  let bin = "";
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function signForm(form) {
  const status = form.querySelector(".sign-status");
  const file = form.querySelector(".keyfile").files[0];
  if (!file) throw new Error("choose your operator key file first");
  if (!(window.crypto && crypto.subtle)) throw new Error("this browser has no WebCrypto here (use https or localhost)");
  status.textContent = "Signing…";
  const der = pemToDer(await file.text());
  const key = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, b64ToBytes(form.dataset.message));
  form.querySelector('input[name="signature"]').value = bytesToB64url(signature);
  status.textContent = "Signed; sending the signature (not the key).";
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.sign")) {
    form.addEventListener("submit", async (event) => {
      if (form.dataset.signed === "1") return;
      event.preventDefault();
      try {
        await signForm(form);
        form.dataset.signed = "1";
        form.submit();
      } catch (err) {
        form.querySelector(".sign-status").textContent = "Not signed: " + err.message;
      }
    });
  }
});

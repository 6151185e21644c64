// Gatehouse's only script: the browser side of passkeys (WebAuthn). Every other page works
// without JavaScript; the passkey buttons stay hidden where this script does not run or the
// browser has no WebAuthn.
"use strict";

(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "===".slice((b64.length + 3) % 4);
    return Uint8Array.from(atob(padded), function (c) { return c.charCodeAt(0); });
  }

  function toText(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (let i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrf(element) {
    const form = element.closest("form") || document;
    const input = form.querySelector("input[name=csrf_token]") ||
      document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  async function post(url, token, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": token },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = {};
    }
    if (!response.ok) {
      throw new Error(data.error || "Something went wrong. Try again.");
    }
    return data;
  }

  function say(element, message) {
    const place = document.getElementById(element.dataset.status);
    if (place) {
      place.textContent = message;
      place.hidden = false;
    }
  }

  async function register(form) {
    const token = csrf(form);
    const name = form.querySelector("[name=passkey_name]").value;
    const password = form.querySelector("[name=passkey_password]").value;
    const options = await post("/account/passkeys/options", token, { password: password });
    const key = options.publicKey;
    key.challenge = toBytes(key.challenge);
    key.user.id = toBytes(key.user.id);
    (key.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    const made = await navigator.credentials.create({ publicKey: key });
    await post("/account/passkeys", token, {
      name: name,
      credential: {
        id: made.id,
        rawId: toText(made.rawId),
        type: made.type,
        response: {
          attestationObject: toText(made.response.attestationObject),
          clientDataJSON: toText(made.response.clientDataJSON),
        },
        extensions: made.getClientExtensionResults ? made.getClientExtensionResults() : {},
      },
    });
    window.location.assign("/account/passkeys");
  }

  async function signIn(button) {
    const token = csrf(button);
    const base = button.dataset.passkey === "second-step" ? "/signin/two-factor/passkey" : "/signin/passkey";
    const options = await post(base + "/options", token);
    const key = options.publicKey;
    key.challenge = toBytes(key.challenge);
    (key.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    const got = await navigator.credentials.get({ publicKey: key });
    const done = await post(base, token, {
      next: button.dataset.next || "",
      credential: {
        id: got.id,
        rawId: toText(got.rawId),
        type: got.type,
        response: {
          authenticatorData: toText(got.response.authenticatorData),
          clientDataJSON: toText(got.response.clientDataJSON),
          signature: toText(got.response.signature),
          userHandle: got.response.userHandle ? toText(got.response.userHandle) : null,
        },
        extensions: got.getClientExtensionResults ? got.getClientExtensionResults() : {},
      },
    });
    window.location.assign(done.redirect || "/");
  }

  document.querySelectorAll("[data-passkey]").forEach(function (element) {
    element.hidden = false;
    const run = element.dataset.passkey === "register" ? register : signIn;
    const event = element.tagName === "FORM" ? "submit" : "click";
    element.addEventListener(event, function (e) {
      e.preventDefault();
      say(element, "Waiting for your passkey…");
      run(element).catch(function (error) {
        say(element, error && error.message ? error.message : "The passkey was not used.");
      });
    });
  });
}());

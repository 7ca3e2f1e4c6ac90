import { ApiError, api, boot, t } from "./common.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  const username = form.elements.username.value.trim();
  const password = form.elements.password.value;
  try {
    await api("POST", "/auth/login", { username, password });
    window.location.assign(boot.next || "/map");
  } catch (err) {
    const status = err instanceof ApiError ? err.status : 0;
    error.textContent = status === 401 ? t("login.failed")
      : status === 429 ? t("login.throttled") : `${t("login.error")} ${err.message}`;
    error.hidden = false;
    form.elements.password.focus();
  }
});

// Log in through the JSON API, then go to the inbox.
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const res = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: form.email.value, password: form.password.value }),
  });
  if (res.ok) {
    window.location.assign("/");
    return;
  }
  const err = document.getElementById("login-error");
  try {
    const body = await res.json();
    if (body.error && res.status === 429) err.textContent = body.error.message;
  } catch (_) { /* keep the default message */ }
  err.hidden = false;
});

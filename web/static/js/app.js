// Shared helpers for the logged-in pages.
const csrf = document.querySelector('meta[name="csrf-token"]').content;

async function api(method, path, body) {
  const res = await fetch("/api/v1" + path, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json();
  if (!res.ok) throw Object.assign(new Error(data.error ? data.error.message : res.statusText), { response: data });
  return data;
}

document.getElementById("logout").addEventListener("click", async () => {
  await api("POST", "/auth/logout");
  window.location.assign("/login");
});

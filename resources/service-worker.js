/* Pushdeck example service worker.
 *
 * Shows the notification Pushdeck sends (docs/web-push-payload.md) and reports what the
 * user did with it to an event collector. Register it from your page with
 *   navigator.serviceWorker.register("/service-worker.js")
 * and subscribe with your VAPID public key as applicationServerKey.
 */

// Where "opened" / "action" / "dismissed" events go. Point this at Pushdeck's local
// collector (or your own endpoint that forwards to it).
const COLLECTOR_URL = "http://127.0.0.1:8765/events";

self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch (err) {
    // Not JSON: show the raw text rather than nothing (browsers penalise silent pushes).
    payload = { title: event.data.text() };
  }
  const { title = "", ...fields } = payload;
  const options = {};
  for (const key of ["body", "icon", "badge", "image", "tag", "requireInteraction",
                     "actions", "data"]) {
    if (fields[key] !== undefined) options[key] = fields[key];
  }
  options.data = options.data || {};
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  const notification = event.notification;
  const data = notification.data || {};
  notification.close();
  // An action button reports "action" with its id; a click on the body reports "opened".
  const kind = event.action ? "action" : "opened";
  const tasks = [report(kind, data, event.action || "")];
  if (data.url) tasks.push(openUrl(data.url));
  event.waitUntil(Promise.all(tasks));
});

self.addEventListener("notificationclose", (event) => {
  event.waitUntil(report("dismissed", event.notification.data || {}, ""));
});

async function openUrl(url) {
  // Focus an open tab on that URL if there is one, else open a new window.
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (client.url === url && "focus" in client) return client.focus();
  }
  return self.clients.openWindow(url);
}

async function report(kind, data, actionId) {
  const subscription = await self.registration.pushManager.getSubscription();
  const body = {
    kind,
    campaign: data.campaign || "",
    variant: data.variant || "",
    action_id: actionId,
    device_token: subscription ? subscription.endpoint : "",
    at: new Date().toISOString(),
  };
  try {
    await fetch(COLLECTOR_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      keepalive: true,
    });
  } catch (err) {
    // Reporting is best effort: a lost event must never break the click.
  }
}

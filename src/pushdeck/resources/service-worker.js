/* Pushdeck example service worker.
 *
 * Shows the notification Pushdeck sends (docs/web-push-payload.md) and reports what the
 * user did with it to Pushdeck's event collector (docs/engagement-events.md), and the
 * conversions your pages tell it about (a purchase, with its value). Register it
 * from your page with
 *   navigator.serviceWorker.register("/service-worker.js")
 * and subscribe with your VAPID public key as applicationServerKey.
 */

// Where "opened" / "action" / "dismissed" events go: Pushdeck's local collector
// (`pushdeck --workspace W collect --port 8765`), or your own endpoint that forwards to it.
const COLLECTOR_URL = "http://127.0.0.1:8765/events";
// The collector's bearer token for your workspace. Print it with
//   pushdeck --workspace W events token
// (`--rotate` replaces it; then update it here). It only lets a caller add engagement
// events to that workspace.
const COLLECTOR_TOKEN = "paste-the-output-of-pushdeck-events-token-here";
// A report that fails on the network or with a 5xx/429 is sent again, with the same
// event_id, so the collector never counts it twice.
const REPORT_ATTEMPTS = 3;
const RETRY_DELAY_MS = 1000;

// Every push must show a notification: browsers show a generic one otherwise, and
// Safari may revoke the subscription of a site whose pushes show nothing.
self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch (err) {
    // Not JSON: show the raw text rather than nothing.
    payload = { title: event.data ? event.data.text() : "" };
  }
  const tasks = [];
  if (payload.web_push === 8030 && payload.notification) {
    // Declarative Web Push (docs/web-push-payload.md): Safari 18.4+ shows it without
    // this worker (and, for a "mutable" one, lets the worker replace it); elsewhere
    // this worker shows the same JSON. The click opens "navigate".
    const { title = "", navigate = "", ...fields } = payload.notification;
    const data = { ...(fields.data || {}) };
    if (navigate && !data.url) data.url = navigate;
    tasks.push(show(title, { ...fields, data }));
    if (typeof payload.app_badge === "number" && self.navigator && self.navigator.setAppBadge) {
      tasks.push(payload.app_badge > 0 ? self.navigator.setAppBadge(payload.app_badge)
                                       : self.navigator.clearAppBadge());
    }
  } else {
    const { title = "", ...fields } = payload;
    tasks.push(show(title, fields));
  }
  event.waitUntil(Promise.all(tasks));
});

function show(title, fields) {
  const options = {};
  for (const key of ["body", "icon", "badge", "image", "tag", "requireInteraction",
                     "actions", "data"]) {
    if (fields[key] !== undefined) options[key] = fields[key];
  }
  options.data = options.data || {};
  if (Array.isArray(options.actions)) {
    // Remember where each declarative action goes, for notificationclick.
    const targets = {};
    for (const a of options.actions) if (a && a.navigate) targets[a.action] = a.navigate;
    if (Object.keys(targets).length) options.data = { ...options.data, action_urls: targets };
    options.actions = options.actions.map(({ navigate, ...rest }) => rest);
  }
  return self.registration.showNotification(title, options);
}

self.addEventListener("notificationclick", (event) => {
  const notification = event.notification;
  const data = notification.data || {};
  notification.close();
  // An action button reports "action" with its id; a click on the body reports "opened".
  const kind = event.action ? "action" : "opened";
  const tasks = [report(kind, notification, event.action || "")];
  const target = (event.action && data.action_urls && data.action_urls[event.action]) || data.url;
  if (target) tasks.push(openUrl(target));
  event.waitUntil(Promise.all(tasks));
});

self.addEventListener("notificationclose", (event) => {
  event.waitUntil(report("dismissed", event.notification, ""));
});

async function openUrl(url) {
  // Focus an open tab on that URL if there is one, else open a new window.
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (client.url === url && "focus" in client) return client.focus();
  }
  return self.clients.openWindow(url);
}

// The campaign and A/B variant Pushdeck put in the notification's data.
function attribution(data) {
  return {
    campaign: String(data.pushdeck_campaign || data.campaign || ""),
    variant: String(data.pushdeck_variant || data.variant || ""),
  };
}

// One event in the collector's shape (docs/engagement-events.md, "The event").
function engagementEvent(kind, notification, actionId, device, at) {
  const { campaign, variant } = attribution(notification.data || {});
  // Stable per (device, campaign, notification tag + timestamp, kind, action): the
  // same user action on the same notification always gets the same event_id, so a
  // retried POST, or a browser firing the event twice, is recorded once.
  const key = [device, campaign, notification.tag || "", notification.timestamp || "",
               kind, actionId].join("\u001f");
  return {
    event_id: "sw-" + hash128(key),
    kind,
    campaign,
    variant,
    action_id: actionId,
    device,
    at,
  };
}

async function report(kind, notification, actionId) {
  const subscription = await self.registration.pushManager.getSubscription();
  const device = subscription ? subscription.endpoint : "";
  const body = engagementEvent(kind, notification, actionId, device, new Date().toISOString());
  if (!body.campaign || !body.device) return; // not from a Pushdeck campaign: nothing to count
  await post(body);
}

// Conversions: a page of your site tells the worker, e.g. when an order is placed,
//   navigator.serviceWorker.ready.then((registration) => registration.active.postMessage({
//     pushdeck: "converted", conversion: "purchase", value: 19.99, currency: "EUR",
//     id: orderId,            // optional: the same id is counted once
//     campaign: campaignName, // optional: only if the page knows which notification led here
//   }));
// Without `campaign`, Pushdeck credits the campaign this browser last opened within the
// app's attribution window ("influenced"); with it, that campaign ("direct").
self.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.pushdeck !== "converted") return;
  event.waitUntil(reportConversion(message));
});

// One conversion in the collector's shape (docs/engagement-events.md, "Conversions").
function conversionEvent(message, device, at) {
  // Stable per (device, the page's id): an order reported twice is recorded once.
  const key = [device, "converted", String(message.id || at)].join("\u001f");
  const body = {
    event_id: "sw-" + hash128(key),
    kind: "converted",
    conversion: String(message.conversion || ""),
    device,
    at,
  };
  if (message.value !== undefined && message.value !== null && message.value !== "") {
    body.value = Number(message.value);
    body.currency = String(message.currency || "").toUpperCase();
  }
  if (message.campaign) body.campaign = String(message.campaign);
  return body;
}

async function reportConversion(message) {
  const subscription = await self.registration.pushManager.getSubscription();
  if (!subscription) return; // not subscribed: there is no device to credit
  await post(conversionEvent(message, subscription.endpoint, new Date().toISOString()));
}

async function post(body) {
  const init = {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Authorization": "Bearer " + COLLECTOR_TOKEN,
    },
    body: JSON.stringify(body),
    keepalive: true,
  };
  for (let attempt = 1; attempt <= REPORT_ATTEMPTS; attempt++) {
    try {
      const response = await fetch(COLLECTOR_URL, init);
      // 2xx: recorded (or already recorded); other 4xx: a retry would fail the same way.
      if (!response || !(response.status >= 500 || response.status === 429)) return;
    } catch (err) {
      // Network error: the collector may or may not have recorded it; the same
      // event_id makes another attempt safe.
    }
    if (attempt < REPORT_ATTEMPTS) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
    }
  }
  // Reporting is best effort: a lost event must never break the click.
}

// 128-bit non-cryptographic hash (four 32-bit lanes of cyrb-style mixing) as 32 hex
// digits: enough to make event ids unique, with no dependency on crypto.subtle.
function hash128(text) {
  let h1 = 0x6a09e667, h2 = 0xbb67ae85, h3 = 0x3c6ef372, h4 = 0xa54ff53a;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ c, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ c, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ c, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ c, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1, h2, h3, h4].map((h) => (h >>> 0).toString(16).padStart(8, "0")).join("");
}

// Runs resources/service-worker.js in a stubbed ServiceWorkerGlobalScope and prints,
// as JSON, what it did: notifications shown, windows opened, events POSTed.
const fs = require("fs");
const vm = require("vm");

const [swPath, payloadJson] = process.argv.slice(2);
const record = { shown: [], opened: [], posted: [] };
const listeners = {};
const scope = {
  addEventListener: (type, fn) => { listeners[type] = fn; },
  registration: {
    showNotification: async (title, options) => { record.shown.push({ title, options }); },
    pushManager: { getSubscription: async () => ({ endpoint: "https://push.example/sub1" }) },
  },
  clients: {
    matchAll: async () => [],
    openWindow: async (url) => { record.opened.push(url); },
  },
};
scope.self = scope;
scope.fetch = async (url, init) => { record.posted.push({ url, body: JSON.parse(init.body) }); };
scope.console = console;
scope.Date = Date;
scope.JSON = JSON;
scope.Promise = Promise;
vm.createContext(scope);
vm.runInContext(fs.readFileSync(swPath, "utf8"), scope);

async function fire(type, event) {
  const pending = [];
  listeners[type]({ ...event, waitUntil: (p) => pending.push(p) });
  await Promise.all(pending);
}

(async () => {
  const payload = JSON.parse(payloadJson);
  await fire("push", { data: { json: () => payload, text: () => payloadJson } });
  const shown = record.shown[0];
  const notification = { ...shown.options, title: shown.title, close: () => {} };
  await fire("notificationclick", { notification, action: "" });
  await fire("notificationclick", { notification, action: "buy" });
  await fire("notificationclose", { notification });
  process.stdout.write(JSON.stringify(record));
})();

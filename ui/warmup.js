/*
 * "Get GPUs ready for class": for API keys with the `warmup` permission, asks the gateway
 * (POST /v1/warmup) to keep the selected model's workers up for the class, shows a
 * countdown from the gateway's estimate until the model answers, then "ready".
 * Self-contained: it adds its own field to the settings panel and reads the key and model
 * from the page's inputs (#api-key, #model), so app.js needs no hook.
 */
(function () {
    "use strict";
    var POLL_MS = 2000;
    var state = { timer: null, poll: null, deadline: 0 };

    function $(id) { return document.getElementById(id); }
    function key() { var k = $("api-key"); return k ? k.value.trim() : ""; }
    function headers() { var k = key(); return k ? { authorization: "Bearer " + k } : {}; }

    function build() {
        var panel = $("settings-title") && $("settings-title").parentElement;
        if (!panel) return null;
        var field = document.createElement("div");
        field.className = "field";
        field.id = "warmup-field";
        field.hidden = true;
        var row = document.createElement("div");
        row.className = "row";
        var button = document.createElement("button");
        button.id = "warmup";
        button.type = "button";
        button.className = "secondary";
        button.textContent = "Get GPUs ready for class";
        var label = document.createElement("label");
        label.htmlFor = "warmup-minutes";
        label.textContent = "for (minutes)";
        var minutes = document.createElement("input");
        minutes.id = "warmup-minutes";
        minutes.type = "number";
        minutes.min = "1";
        minutes.max = "240";
        minutes.value = "60";
        row.append(button, label, minutes);
        var status = document.createElement("p");
        status.id = "warmup-status";
        status.className = "hint";
        status.setAttribute("role", "status");
        status.setAttribute("aria-live", "polite");
        field.append(row, status);
        panel.append(field);
        button.addEventListener("click", start);
        return field;
    }

    function say(text) { $("warmup-status").textContent = text; }

    function stopTimers() {
        if (state.timer) clearInterval(state.timer);
        if (state.poll) clearTimeout(state.poll);
        state.timer = state.poll = null;
    }

    function tick() {
        var left = Math.max(0, Math.round((state.deadline - Date.now()) / 1000));
        say(left > 0 ? "GPUs are starting: ready in about " + left + " s." : "GPUs are starting: almost ready…");
    }

    async function list() {
        var res = await fetch("/v1/warmup", { headers: headers(), cache: "no-store" });
        if (!res.ok) return null;
        return res.json();
    }

    function mine(body) {
        var model = $("model") ? $("model").value : "";
        return (body.data || []).filter(function (w) { return w.model === model; })[0];
    }

    async function poll() {
        try {
            var body = await list();
            var w = body && mine(body);
            if (w && w.ready) {
                stopTimers();
                say("Ready: the model answers. Warm until " + new Date(w.warm_until).toLocaleTimeString() + ".");
                $("warmup").disabled = false;
                return;
            }
        } catch (e) { /* network hiccup: keep polling */ }
        state.poll = setTimeout(poll, POLL_MS);
    }

    async function start() {
        var model = $("model") ? $("model").value : "";
        var minutes = Number($("warmup-minutes").value);
        if (!model) { say("Choose a model first."); return; }
        if (!(minutes >= 1 && minutes <= 240 && Math.round(minutes) === minutes)) { say("Minutes must be a whole number from 1 to 240."); return; }
        $("warmup").disabled = true;
        stopTimers();
        try {
            var res = await fetch("/v1/warmup", { method: "POST", headers: Object.assign({ "content-type": "application/json" }, headers()), body: JSON.stringify({ model: model, minutes: minutes }) });
            var body = await res.json().catch(function () { return {}; });
            if (res.status !== 202) {
                $("warmup").disabled = false;
                say((body.error && body.error.message) || "The gateway refused the warm-up (HTTP " + res.status + ").");
                return;
            }
            state.deadline = Date.now() + body.ready_in_seconds_estimate * 1000;
            tick();
            state.timer = setInterval(tick, 1000);
            poll();
        } catch (e) {
            $("warmup").disabled = false;
            say("Could not reach the gateway: " + e.message);
        }
    }

    async function refresh() {
        var field = $("warmup-field");
        if (!field) return;
        if (!key()) { field.hidden = true; return; }
        try {
            var body = await list();
            field.hidden = !(body && body.permitted);
        } catch (e) { field.hidden = true; }
    }

    function init() {
        if (!build()) return;
        refresh();
        if ($("api-key")) $("api-key").addEventListener("change", refresh);
    }

    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
    else init();
})();

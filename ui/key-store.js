/*
 * Where the page keeps the API key. Lab and classroom machines are shared, so by default the
 * key lives for this browser tab's session only (sessionStorage: gone when the tab closes);
 * "Remember on this device" keeps it in localStorage until "Forget key".
 *
 * window.gpuKeyStore.load() -> {key, remember}; save(key, remember); forget()
 */
(function (root) {
    "use strict";
    var NAME = "gpuserve.apiKey";

    function get(storage) {
        try { return storage.getItem(NAME); } catch (e) { return null; }
    }
    function set(storage, value) {
        try {
            if (value === null) storage.removeItem(NAME);
            else storage.setItem(NAME, value);
        } catch (e) { /* storage disabled: the key lives for this page only */ }
    }

    root.gpuKeyStore = {
        load: function () {
            var remembered = get(localStorage);
            if (remembered) return { key: remembered, remember: true };
            return { key: get(sessionStorage) || "", remember: false };
        },
        save: function (key, remember) {
            set(sessionStorage, key);
            set(localStorage, remember ? key : null);
        },
        forget: function () {
            set(sessionStorage, null);
            set(localStorage, null);
        },
    };
})(typeof self !== "undefined" ? self : this);

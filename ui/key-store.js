// @ts-check
/**
 * Where the page keeps the API key. Lab and classroom machines are shared, so by default the
 * key lives for this browser tab's session only (sessionStorage: gone when the tab closes);
 * "Remember on this device" keeps it in localStorage until "Forget key".
 */
const NAME = "gpuserve.apiKey";

/**
 * @param {Storage} storage
 * @returns {string | null}
 */
function get(storage) {
    try {
        return storage.getItem(NAME);
    } catch {
        return null;
    }
}

/**
 * @param {Storage} storage
 * @param {string | null} value null removes it
 */
function set(storage, value) {
    try {
        if (value === null) storage.removeItem(NAME);
        else storage.setItem(NAME, value);
    } catch {
        /* storage disabled: the key lives for this page only */
    }
}

/** The kept key, and whether it is remembered on this device. @returns {{ key: string, remember: boolean }} */
export function loadKey() {
    const remembered = get(localStorage);
    if (remembered) return { key: remembered, remember: true };
    return { key: get(sessionStorage) || "", remember: false };
}

/**
 * Keeps the key for the session, and on this device when `remember`.
 * @param {string | null} key
 * @param {boolean} remember
 */
export function saveKey(key, remember) {
    set(sessionStorage, key);
    set(localStorage, remember ? key : null);
}

/** Removes the key from both stores. */
export function forgetKey() {
    set(sessionStorage, null);
    set(localStorage, null);
}

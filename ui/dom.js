// @ts-check
/** Small DOM helpers the page's modules share: typed element lookup, element building, plurals. */

/**
 * The element with this id, checked to be of the expected kind (a renamed id in index.html
 * fails at load with its name, not later as "cannot read properties of null").
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type e.g. HTMLInputElement
 * @returns {T}
 */
export function byId(id, type) {
    const node = document.getElementById(id);
    if (!(node instanceof type)) throw new Error(`index.html has no <${type.name}> #${id}`);
    return node;
}

/**
 * A new element: `text` sets its text (never HTML), `class` its class, `aria-*`, `for` and
 * `role` are attributes, anything else a property (`type`, `value`, `hidden`, ...).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [props]
 * @param {ReadonlyArray<Node | string | null | undefined>} [children] nulls are skipped
 * @returns {HTMLElementTagNameMap[K]}
 */
export function make(tag, props, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props ?? {})) {
        if (k === "text") node.textContent = String(v);
        else if (k === "class") node.className = String(v);
        else if (k.startsWith("aria-") || k === "for" || k === "role") node.setAttribute(k, String(v));
        else /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (node))[k] = v;
    }
    for (const c of children ?? []) if (c) node.append(c);
    return node;
}

/**
 * Shows `text` in `node`, or hides it when there is none.
 * @param {HTMLElement} node
 * @param {string} [text]
 */
export function show(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
}

/**
 * "1 image", "3 images".
 * @param {number} n
 * @param {string} word
 */
export function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * A value from localStorage; null when absent or storage is disabled.
 * @param {string} key
 * @returns {string | null}
 */
export function stored(key) {
    try {
        return localStorage.getItem(key);
    } catch {
        return null;
    }
}

/**
 * Stores a value in localStorage (null removes it); with storage disabled it lives for this page only.
 * @param {string} key
 * @param {string | null} value
 */
export function store(key, value) {
    try {
        if (value === null) localStorage.removeItem(key);
        else localStorage.setItem(key, value);
    } catch {
        /* storage disabled */
    }
}

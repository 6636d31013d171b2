/** @odoo-module */
// Calling the store's posplugin service from a browser POS.
//
// No Odoo imports: a plain ES module, so it runs (and is tested) without Odoo.
// Every function fails open: on any error, refusal or timeout it resolves to
// null, never throws, and the sale goes on without a prompt.

export const TIMEOUT_MS = 500;

/** The customer's identifiers to try, in order: phone, mobile, email. */
export function identifiersOf(partner) {
    const out = [];
    if (!partner || typeof partner !== "object") {
        return out;
    }
    for (const [type, value] of [["phone", partner.phone], ["phone", partner.mobile], ["email", partner.email]]) {
        const text = typeof value === "string" ? value.trim() : "";
        if (text && !out.some((i) => i.type === type && i.value === text)) {
            out.push({ type, value: text });
        }
    }
    return out;
}

/** The first word of a name: all the prompt needs to greet the customer. */
export function firstName(name) {
    const text = typeof name === "string" ? name.trim() : "";
    return text ? text.split(/\s+/)[0].slice(0, 64) : null;
}

async function call({ url, token, fetchImpl }, method, path, body, deadline) {
    const remaining = deadline - Date.now();
    if (!url || !token || remaining <= 0) {
        return null;
    }
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    let timer;
    const timeout = new Promise((resolve) => {
        timer = setTimeout(() => {
            controller?.abort();
            resolve(null);
        }, remaining);
    });
    const request = (async () => {
        const response = await fetchImpl.call(globalThis, String(url).replace(/\/+$/, "") + path, {
            method,
            headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: controller?.signal,
            mode: "cors",
            credentials: "omit",
            cache: "no-store",
        });
        if (!response.ok) {
            return null;
        }
        const answer = await response.json();
        return answer && typeof answer === "object" ? answer : null;
    })().catch(() => null);
    try {
        return await Promise.race([request, timeout]);
    } finally {
        clearTimeout(timer);
    }
}

/**
 * Tell posplugin which customer is at ``lane``; resolves to its identify
 * answer ({known, tier, service_level, ..., prompt}) or null.
 *
 * Tries the partner's phone, mobile and email in turn until one is on the
 * tier list, all within ``timeoutMs`` together.
 */
export async function identifyCustomer(options) {
    try {
        const {
            url, token, lane, partner, displayName, saleId,
            timeoutMs = TIMEOUT_MS, fetch: fetchImpl = globalThis.fetch,
        } = options || {};
        if (typeof fetchImpl !== "function" || lane === undefined || lane === null || lane === "") {
            return null;
        }
        const deadline = Date.now() + Math.max(0, Number(timeoutMs) || 0);
        const name = displayName === undefined ? firstName(partner?.name) : displayName;
        let answer = null;
        for (const identifier of identifiersOf(partner)) {
            const body = { lane: String(lane), identifier, stage: "till" };
            if (name) {
                body.display_name = String(name).slice(0, 64);
            }
            if (saleId) {
                body.sale_id = String(saleId).slice(0, 128);
            }
            const reply = await call({ url, token, fetchImpl }, "POST", "/api/v1/identify", body, deadline);
            if (reply) {
                answer = reply;
                if (reply.known) {
                    break;
                }
            }
        }
        return answer;
    } catch {
        return null;
    }
}

/** "On it" (``ack``) or "Done" (``resolve``) on a prompt; resolves to the prompt or null. */
export async function promptAction(options) {
    try {
        const {
            url, token, promptId, action, by,
            timeoutMs = TIMEOUT_MS, fetch: fetchImpl = globalThis.fetch,
        } = options || {};
        if (!["ack", "resolve"].includes(action) || !Number.isInteger(Number(promptId))
            || typeof fetchImpl !== "function") {
            return null;
        }
        const body = { by: String(by || "cashier").slice(0, 64) };
        const deadline = Date.now() + Math.max(0, Number(timeoutMs) || 0);
        return await call({ url, token, fetchImpl }, "POST",
            `/api/v1/prompts/${Number(promptId)}/${action}`, body, deadline);
    } catch {
        return null;
    }
}

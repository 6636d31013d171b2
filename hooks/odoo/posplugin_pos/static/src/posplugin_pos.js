/** @odoo-module */
// posplugin in the Odoo 17 Point of Sale: when the cashier sets a customer on
// the current order, ask posplugin (in the background; the sale never waits)
// and show its prompt in a small card over the POS screen.

import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { patch } from "@web/core/utils/patch";
import { Order } from "@point_of_sale/app/store/models";
import { PosStore } from "@point_of_sale/app/store/pos_store";
import { usePos } from "@point_of_sale/app/store/pos_hook";
import { identifyCustomer, promptAction } from "@posplugin_pos/posplugin_client";

/** posplugin's URL, token and lane for this POS, or null when not configured. */
export function pospluginSettings(config) {
    if (!config || !config.posplugin_url || !config.posplugin_token) {
        return null;
    }
    return {
        url: config.posplugin_url,
        token: config.posplugin_token,
        lane: config.posplugin_lane || String(config.id),
    };
}

patch(PosStore.prototype, {
    setup() {
        // The card shown over the POS: {orderUid, prompt, failed} or null.
        this.pospluginCard = null;
        this.pospluginAsked = 0;
        return super.setup(...arguments);
    },

    /** Ask posplugin about ``partner``, now the customer of ``order``. */
    pospluginIdentify(order, partner) {
        const settings = pospluginSettings(this.config);
        const asked = ++this.pospluginAsked;
        this.pospluginCard = null;
        if (!settings || !partner) {
            return;
        }
        const orderUid = order.uid;
        identifyCustomer({ ...settings, partner, saleId: orderUid })
            .then((answer) => {
                // A later customer (or none) was picked meanwhile: this answer is stale.
                if (asked === this.pospluginAsked && answer && answer.prompt) {
                    this.pospluginCard = { orderUid, prompt: answer.prompt, failed: false };
                }
            })
            .catch(() => {});
    },

    /** "On it" (``ack``) or "Done" (``resolve``) on the card's prompt. */
    async pospluginAct(action) {
        const card = this.pospluginCard;
        const settings = pospluginSettings(this.config);
        if (!card || !settings) {
            return;
        }
        const id = card.prompt.id;
        const cashier = (this.get_cashier && this.get_cashier()) || this.user;
        const prompt = await promptAction({ ...settings, promptId: id, action, by: cashier && cashier.name });
        if (!this.pospluginCard || this.pospluginCard.prompt.id !== id) {
            return;
        }
        if (!prompt) {
            this.pospluginCard = { ...this.pospluginCard, failed: true };
        } else if (action === "resolve" || !["open", "taken"].includes(prompt.status)) {
            this.pospluginCard = null;
        } else {
            this.pospluginCard = { ...this.pospluginCard, prompt, failed: false };
        }
    },

    pospluginDismiss() {
        this.pospluginCard = null;
    },
});

patch(Order.prototype, {
    set_partner(partner) {
        const before = this.get_partner();
        const result = super.set_partner(...arguments);
        try {
            // Only the cashier's pick on the current order, not orders restored at start.
            const pos = this.pos;
            if (pos && pos.pospluginIdentify && (partner ? partner.id : null) !== (before ? before.id : null)
                && pos.get_order() && pos.get_order().uid === this.uid) {
                pos.pospluginIdentify(this, partner);
            }
        } catch (error) {
            console.warn("posplugin: carrying on without a prompt", error);
        }
        return result;
    },
});

export class PospluginCard extends Component {
    static template = "posplugin_pos.PospluginCard";
    static props = {};

    setup() {
        this.pos = usePos();
    }

    /** The card of the order on screen, if any. */
    get card() {
        const card = this.pos.pospluginCard;
        const order = this.pos.get_order();
        return card && order && card.orderUid === order.uid ? card : null;
    }
}

registry.category("main_components").add("PospluginCard", { Component: PospluginCard });

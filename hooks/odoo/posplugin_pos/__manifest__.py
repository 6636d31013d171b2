# posplugin for Odoo 17 Point of Sale: when the cashier picks a customer, ask
# the store's posplugin service who they are and show its prompt in the POS.
{
    "name": "posplugin: service prompts in the Point of Sale",
    "version": "17.0.1.0.0",
    "category": "Sales/Point of Sale",
    "summary": "Asks posplugin about the customer the cashier picks and shows its prompt card",
    "author": "posplugin",
    "license": "Other OSI approved licence",
    "depends": ["point_of_sale"],
    "data": [
        "views/pos_config_views.xml",
    ],
    "assets": {
        "point_of_sale._assets_pos": [
            "posplugin_pos/static/src/posplugin_client.js",
            "posplugin_pos/static/src/posplugin_pos.js",
            "posplugin_pos/static/src/posplugin_card.xml",
            "posplugin_pos/static/src/posplugin_card.css",
        ],
    },
    "installable": True,
    "application": False,
}

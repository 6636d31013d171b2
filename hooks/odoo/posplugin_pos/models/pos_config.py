from odoo import fields, models


class PosConfig(models.Model):
    _inherit = "pos.config"

    posplugin_url = fields.Char(
        string="posplugin URL",
        help="The store's posplugin service as this POS's browser reaches it, "
             "e.g. http://127.0.0.1:8765 (empty: posplugin is not asked).")
    posplugin_token = fields.Char(
        string="posplugin till token",
        groups="point_of_sale.group_pos_manager",
        help="A token made with `posplugin token create --role till --name odoo-pos-1`.")
    posplugin_lane = fields.Char(
        string="posplugin lane",
        help="This POS's lane (till) number in posplugin; empty: the POS's id.")

// The index page: only its words need the catalogue.
"use strict";
Posplugin.loadMessages();

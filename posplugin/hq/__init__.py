"""Head office: tier-list versions and the signed feed, store tokens, outcome
reports and figures, the holdout experiment (this folder, over db and
schema); the customer's side (customers/, platforms/); its HTTP face (web/)."""

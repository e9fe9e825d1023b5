"""Pure vending domain (money split, tariffs, FBE, debt, TID policy): imports only ``sts``."""

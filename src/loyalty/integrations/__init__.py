"""Store platform adapters: a webhook's raw bytes in, our inbound events out.

Each platform module (``shopify``, ``woocommerce``, ``saleor``, ``generic``) is pure: it checks
the delivery's signature over the raw body (``verify``) and maps the payload to
``InboundEvent`` values (``to_events``). ``registry`` puts them behind one interface for the
``/hooks/{tenant}/{platform}`` endpoint. No I/O, no clock: time is passed in.
"""

"""The one query layer: declared meanings (definitions, filters, local time), the portable path, the accelerators and the engine that picks between them."""

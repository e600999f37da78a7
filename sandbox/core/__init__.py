"""What every emulated service of the local AWS builds on: the sandbox clock (``clock``),
fault injection (``faults``), the settings registry (``settings``), the event bus and its
listeners (``event_bus``), background threads (``background``), the HTTP endpoint the
functions call (``endpoint``) and the registry of the HTTP controls (``control``)."""

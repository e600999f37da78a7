"""Lambda entry points, one module per deployed function (named like it): observability,
parse, call the function's logic (logic/, same module name). Each module is its function's
one composition point, where clients, settings and adapters are wired."""

"""One screen per file. ``base.ConsoleScreen`` is the load/show contract the App's refresh loop uses."""

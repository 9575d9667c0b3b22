"""The frame: the application, the main window, its menus, docks and toolbar, settings, dialogs, start-up."""

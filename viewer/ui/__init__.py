"""The Qt shell: widgets that adapt ``viewer.core`` to the screen.

``main_window`` is the frame (menus, toolbar, docks); ``viewport`` one image view with
its display state, held by ``viewport_layout``; ``opening``, ``window_presets`` and
``settings_controller`` (with ``settings_store``) are the controllers; the docks are
``pipeline_dock``, ``inspector_dock``, ``query_dock``, ``problems_dock`` and the
study ``browser``; ``contents`` lists what is imported after the first paint.
"""

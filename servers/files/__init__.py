"""The file manager (DESIGN.md §13): a server's files, read and written by the worker of its node.

`relay` carries each operation to that worker and back (the web process never touches
the game host); `worker` is the worker's side; `actions` adds the activity events the
pages and the API share; `views` are the pages.
"""

"""The marketing UI (server-rendered pages). One module per screen; ``base`` holds the workspace
scoping and role check every page goes through."""

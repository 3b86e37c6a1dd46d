"""Members of a server: the rules of who may grant what (service.py), their pages and forms."""

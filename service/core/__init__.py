"""Transport-free core of the server: domain types, the request pipeline and its stages."""

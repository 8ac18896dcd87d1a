"""The analysis methods, one module per family; importing a module registers its methods."""

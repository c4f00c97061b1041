"""One file per architecture of the zoo, each registering its names (`llid_cli.models.ARCHITECTURES`)."""

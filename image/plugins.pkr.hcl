# Packer 1.7+ loads the Amazon builder as a plugin; `make build` runs `packer init` first.
# Debian's Packer 1.6.6 cannot read this block (the tests validate the other files without it).
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      version = ">= 1.2.0, < 2.0.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

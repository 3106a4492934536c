// libyaml's event parser (Debian: libyaml-dev), through pkg-config's yaml-0.1.
#include <yaml.h>

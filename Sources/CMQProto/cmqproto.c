// protoc-c output is generated into this target by tools/gen-protos.sh.
#include "cmqproto.h"

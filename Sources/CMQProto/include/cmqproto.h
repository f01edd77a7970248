#ifndef CMQPROTO_H
#define CMQPROTO_H
#endif

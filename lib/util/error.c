#include "leec/leec.h"

const char *leec_strerror(leec_code code)
{
    switch (code) {
#define LEEC_X_MSG(name, num, msg)                                             \
    case name:                                                                 \
        return msg;
        LEEC_CODES(LEEC_X_MSG)
#undef LEEC_X_MSG
    }
    return "unknown error";
}

const char *leec_state_name(leec_agent_state state)
{
    switch (state) {
#define LEEC_X_SNAME(name, str)                                                \
    case name:                                                                 \
        return str;
        LEEC_STATES(LEEC_X_SNAME)
#undef LEEC_X_SNAME
    case LEEC_ST__COUNT:
        break;
    }
    return "UNKNOWN";
}

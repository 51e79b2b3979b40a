#ifndef RTC_CUSRSCTP_SHIM_H
#define RTC_CUSRSCTP_SHIM_H
#include <usrsctp.h>
#endif

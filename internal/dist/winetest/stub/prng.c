/* A stand-in for bcryptprimitives.dll, which wine 8 lacks and Go's Windows runtime needs:
   ProcessPrng fills the buffer with random bytes from RtlGenRandom (advapi32's
   SystemFunction036) and, like Windows' own, reports success. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

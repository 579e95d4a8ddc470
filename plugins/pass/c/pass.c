/* pass: every packet goes on (PASS). The C twin of pass/main.go, and the
 * smallest plugin the ABI allows. */
#include "memif_wasm.h"

MW_EXPORT("mw_init") int32_t mw_init(uint32_t cfg_ptr, uint32_t cfg_len) {
	(void)cfg_ptr;
	(void)cfg_len;
	return MW_OK;
}

MW_EXPORT("mw_process") int32_t mw_process(uint32_t n) {
	for (uint32_t i = 0; i < n; i++) mw_desc(i)->verdict = MW_PASS;
	return MW_OK;
}

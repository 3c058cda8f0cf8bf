/*
 * airlockd's transport: the mapping of curl's outcomes to airlock_err, and
 * real transfers that fail before any server is involved (refused
 * connections, non-https URLs). The TLS refusals against a real server are
 * in test_transport.sh.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "testutil.h"
#include "transport.h"

static void test_map(void **state)
{
	(void)state;
	assert_err(agent_http_map(CURLE_OK, "", true, AIRLOCK_OK), AIRLOCK_OK);
	/* Below the minimum rate once connected: slow retrieval. */
	assert_err(agent_http_map(CURLE_OPERATION_TIMEDOUT, "", true, AIRLOCK_OK), AIRLOCK_ERR_TOO_SLOW);
	assert_err(agent_http_map(CURLE_OPERATION_TIMEDOUT, "", false, AIRLOCK_OK), AIRLOCK_ERR_NETWORK);
	assert_err(agent_http_map(CURLE_COULDNT_CONNECT, "", false, AIRLOCK_OK), AIRLOCK_ERR_NETWORK);
	assert_err(agent_http_map(CURLE_COULDNT_RESOLVE_HOST, "", false, AIRLOCK_OK), AIRLOCK_ERR_NETWORK);
	assert_err(agent_http_map(CURLE_PARTIAL_FILE, "", true, AIRLOCK_OK), AIRLOCK_ERR_NETWORK);
	assert_err(agent_http_map(CURLE_RECV_ERROR, "", true, AIRLOCK_OK), AIRLOCK_ERR_NETWORK);
	/* TLS: an untrusted chain and a wrong name share a curl code. */
	assert_err(agent_http_map(CURLE_PEER_FAILED_VERIFICATION,
				  "SSL certificate problem: unable to get local issuer certificate", true, AIRLOCK_OK),
		   AIRLOCK_ERR_TLS);
	assert_err(agent_http_map(CURLE_PEER_FAILED_VERIFICATION,
				  "SSL: no alternative certificate subject name matches target host name 'x'", true,
				  AIRLOCK_OK),
		   AIRLOCK_ERR_TLS_NAME);
	assert_err(agent_http_map(CURLE_SSL_PINNEDPUBKEYNOTMATCH, "", true, AIRLOCK_OK), AIRLOCK_ERR_TLS_NAME);
	assert_err(agent_http_map(CURLE_SSL_CONNECT_ERROR, "", false, AIRLOCK_OK), AIRLOCK_ERR_TLS);
	assert_err(agent_http_map(CURLE_SSL_CERTPROBLEM, "", false, AIRLOCK_OK), AIRLOCK_ERR_TLS);
	assert_err(agent_http_map(CURLE_FILESIZE_EXCEEDED, "", true, AIRLOCK_OK), AIRLOCK_ERR_TOO_LARGE);
	assert_err(agent_http_map(CURLE_UNSUPPORTED_PROTOCOL, "", false, AIRLOCK_OK), AIRLOCK_ERR_BAD_VALUE);
	/* The write callback's verdict wins over curl's "write error". */
	assert_err(agent_http_map(CURLE_WRITE_ERROR, "", true, AIRLOCK_ERR_TOO_LARGE), AIRLOCK_ERR_TOO_LARGE);
	assert_err(agent_http_map(CURLE_WRITE_ERROR, "", true, AIRLOCK_ERR_BAD_RANGE), AIRLOCK_ERR_BAD_RANGE);
	assert_err(agent_http_map(CURLE_WRITE_ERROR, "", true, AIRLOCK_ERR_DIGEST_MISMATCH),
		   AIRLOCK_ERR_DIGEST_MISMATCH);
}

static int closed_port(void)
{
	/* Bind, learn the port, close: nothing listens there now. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t n = sizeof a;
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &n), 0);
	close(s);
	return ntohs(a.sin_port);
}

static void test_real_failures(void **state)
{
	struct agent_config cfg;
	struct agent_http h;
	struct agent_buf b;
	char url[128];
	(void)state;
	agent_config_defaults(&cfg);
	snprintf(cfg.ca, sizeof cfg.ca, "/nonexistent-ca.pem");
	assert_err(agent_http_init(&h, &cfg), AIRLOCK_OK);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/api/v1/root", closed_port());
	assert_err(agent_http_get(&h, url, 1024, &b), AIRLOCK_ERR_NETWORK);
	assert_non_null(strstr(h.detail, "onnect"));
	/* Not https: refused before any byte leaves. */
	assert_err(agent_http_get(&h, "http://127.0.0.1:1/x", 1024, &b), AIRLOCK_ERR_BAD_VALUE);
	assert_err(agent_http_get(&h, "file:///etc/passwd", 1024, &b), AIRLOCK_ERR_BAD_VALUE);
	uint64_t got;
	assert_err(agent_http_stream(&h, url, 10, 5, NULL, NULL, &got), AIRLOCK_ERR_INVALID_ARG);
	agent_http_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_real_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

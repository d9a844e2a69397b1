/* The proposal pool's tests (test_node_proposals.c), run by test_node.c's main. */
#ifndef SBX_TESTS_UNIT_TEST_NODE_PROPOSALS_H
#define SBX_TESTS_UNIT_TEST_NODE_PROPOSALS_H

void test_proposals_distinct_signers(void **state);
void test_proposals_regulators_only(void **state);
void test_proposals_expiry(void **state);
void test_proposals_cap(void **state);

#endif

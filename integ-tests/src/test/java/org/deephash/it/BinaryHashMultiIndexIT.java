package org.deephash.it;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Random;

import static org.deephash.it.ItSupport.NODES;

/**
 * {@link BinaryHashSuite} on an index whose binary_hash fields keep multi-index hashing tables
 * ({@code index_options: {type: multi_index}}, in the plugin's format), with each query's
 * {@code strategy} drawn at random: the tables, the scan and the per-segment choice must all give
 * the oracle's answers, through deletes, updates and a force-merge.
 */
class BinaryHashMultiIndexIT extends BinaryHashCodecIT {
    private static final String[] STRATEGIES = {"auto", "index", "scan"};

    @Override
    protected String indexName() {
        return "deep-hash-it-multi-index";
    }

    @Override
    protected ObjectNode fieldMapping(int bits) {
        ObjectNode mapping = super.fieldMapping(bits);
        ObjectNode options = NODES.objectNode().put("type", "multi_index");
        if (bits == 64) {
            options.put("substrings", 4); // a fixed m on one field; the others choose m per segment
        }
        mapping.set("index_options", options);
        return mapping;
    }

    @Override
    protected void addQueryOptions(ObjectNode hamming, Random rnd) {
        String strategy = STRATEGIES[rnd.nextInt(STRATEGIES.length)];
        if (!strategy.equals("auto") || rnd.nextBoolean()) {
            hamming.put("strategy", strategy);
        }
    }
}

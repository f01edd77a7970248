print("mq-coordinator")
